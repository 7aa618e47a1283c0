"""The camera node: one ROS 2 node that serves any Camera, under realsense-ros topic names."""
