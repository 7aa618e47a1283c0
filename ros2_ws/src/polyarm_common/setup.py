from setuptools import find_packages, setup

package_name = "polyarm_common"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["config/*.xml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/config", [f"{package_name}/config/fastdds_shm.xml"]),
    ],
    install_requires=["setuptools", "numpy"],
    zip_safe=False,
    description="Shared pieces of polyarm's ROS 2 nodes.",
    license="Apache-2.0",
)
