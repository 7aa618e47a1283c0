from glob import glob

from setuptools import find_packages, setup

package_name = "polyarm_bringup"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["config/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/config", glob(f"{package_name}/config/*.yaml")),
        (f"share/{package_name}/launch", glob("launch/*.launch.py")),
    ],
    install_requires=["setuptools", "pyyaml"],
    zip_safe=False,
    description="The polyarm graph: which nodes run with which parameters, the supervisor (polyarm up), ros2 launch files, evaluation through ROS and the demo.",
    license="Apache-2.0",
    entry_points={"console_scripts": []},
)
