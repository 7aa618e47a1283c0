from glob import glob

from setuptools import find_packages, setup

package_name = "polyarm_description"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["mjcf/*.xml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/mjcf", glob(f"{package_name}/mjcf/*.xml")),
    ],
    install_requires=["setuptools", "numpy", "mujoco>=3.3"],
    zip_safe=False,
    description="MJCF descriptions of the arms polyarm drives.",
    license="Apache-2.0",
)
