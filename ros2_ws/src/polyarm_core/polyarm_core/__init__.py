"""The ground floor, numpy only: policy I/O, rotations, gripper normalisation, the one policy step, and the
RobotDriver, Camera and TeleopDevice interfaces with their registry. It imports no other polyarm package,
and no rclpy, MuJoCo or torch."""
