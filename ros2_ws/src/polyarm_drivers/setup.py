from setuptools import find_packages, setup

package_name = "polyarm_drivers"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    description="The driver node: one ROS 2 node over any RobotDriver (joint_states, joint_commands, gripper/command, diagnostics).",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["driver = polyarm_drivers.main:main"],
        # polyarm_core.registry finds these by name
        "polyarm.drivers": [
            "franky = polyarm_drivers.franky_driver:FrankyDriver",
            "dynamixel = polyarm_drivers.dynamixel_driver:DynamixelDriver",
            "xarm = polyarm_drivers.xarm_driver:XArmDriver",
        ],
    },
)
