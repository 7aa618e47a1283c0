from setuptools import find_packages, setup

package_name = "polyarm_calibration"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy"],  # and OpenCV with contrib (requirements/base.txt)
    zip_safe=False,
    description="Camera intrinsics and hand-eye calibration (OpenCV, ChArUco), and the guided workflow.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["calibrate = polyarm_calibration.main:main"]},
)
