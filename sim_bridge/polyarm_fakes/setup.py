from setuptools import find_packages, setup

package_name = "polyarm_fakes"

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
    description="Robot controllers simulated at their network protocols (xArm controller, Dynamixel bus, franky-sim).",
    license="Apache-2.0",
    entry_points={"console_scripts": ["fake_robot = polyarm_fakes.main:main"]},
)
