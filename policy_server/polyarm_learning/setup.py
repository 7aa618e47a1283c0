from setuptools import find_packages, setup

package_name = "polyarm_learning"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy", "torch"],
    zip_safe=False,
    description="Offline training (BC, SAC, CQL, CQL-SI, PLAS, PolyTask, COG) and in-process evaluation on the sim.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["train = polyarm_learning.train:main"]},
)
