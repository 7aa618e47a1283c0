from setuptools import find_packages, setup

package_name = "polyarm_teleop"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy"],  # and evdev, pyspacemouse (requirements/base.txt)
    zip_safe=False,
    description="Teleoperation devices (terminal keyboard, evdev gamepad, SpaceMouse) and the TCP target they drive.",
    license="Apache-2.0",
    entry_points={
        # polyarm_core.registry finds these by name
        "polyarm.teleop_devices": [
            "keyboard = polyarm_teleop.keyboard:keyboard",
            "gamepad = polyarm_teleop.gamepad:gamepad",
            "spacemouse = polyarm_teleop.spacemouse:spacemouse",
        ],
    },
)
