from setuptools import find_packages, setup

package_name = "polyarm_perception"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy"],  # and Open3D (open3d-cpu or open3d: requirements/base.txt)
    zip_safe=False,
    description="Object pose from depth by template ICP (Open3D), and the perception node.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["perception = polyarm_perception.main:main"]},
)
