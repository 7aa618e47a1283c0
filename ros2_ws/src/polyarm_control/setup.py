from setuptools import find_packages, setup

package_name = "polyarm_control"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy", "mujoco>=3.3"],
    zip_safe=False,
    description="Operational-space impedance controller for polyarm's arms.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["controller = polyarm_control.main:main"]},
)
