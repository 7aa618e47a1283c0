from setuptools import find_packages, setup

package_name = "policy_server"

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
    description="The policy server: models, checkpoints, the policy runtime (torch or ONNX Runtime) and the 2 Hz policy node.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["policy = policy_server.main:main"]},
)
