from setuptools import find_packages, setup

package_name = "polyarm_data"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy", "h5py"],
    zip_safe=False,
    description="Datasets (Minari layout), MCAP recording and the recorder node, scripted data collection.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["record = polyarm_data.recorder:main"]},
)
