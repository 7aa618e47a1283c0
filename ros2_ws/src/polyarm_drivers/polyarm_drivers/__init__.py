"""The driver node: one ROS 2 node that serves any RobotDriver (the sim, and the real arms' drivers)."""
