from setuptools import find_packages, setup

package_name = "polyarm_cameras"

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
    description="Camera nodes (RealSense, OpenCV) and the camera stream: color, aligned depth and camera_info under realsense-ros names.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["camera = polyarm_cameras.main:main"],
        # polyarm_core.registry finds these by name
        "polyarm.cameras": [
            "realsense = polyarm_cameras.realsense:RealSenseCamera",
            "opencv = polyarm_cameras.opencv_camera:OpenCVCamera",
        ],
    },
)
