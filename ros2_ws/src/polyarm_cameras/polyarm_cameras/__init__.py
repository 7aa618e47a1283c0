"""The camera stream: any Camera on the ROS graph, under realsense-ros topic names (the sim node hosts it today;
the camera node of each real camera backend hosts the same stream)."""
