from setuptools import find_packages, setup

package_name = "polyarm_core"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy"],
    zip_safe=False,
    description="The ground floor of polyarm, numpy only: policy I/O, rotations, gripper normalisation, the one policy step (PolicyCore), and the RobotDriver, Camera and TeleopDevice interfaces with their registry.",
    license="Apache-2.0",
    entry_points={"console_scripts": []},
)
