from setuptools import find_packages, setup

package_name = "sim_bridge"

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
    description="MuJoCo sim bridge publishing the real drivers' topics.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["sim = sim_bridge.main:main"],
        # polyarm_core.registry finds these by name
        "polyarm.drivers": [
            "mujoco = sim_bridge.devices:StandaloneMujocoDriver",
        ],
    },
)
