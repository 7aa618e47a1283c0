"""Cameras on the ROS graph: the camera stream (any Camera under realsense-ros topic names; the sim node
hosts it for its scene camera) and the camera node with its backends, RealSense (pyrealsense2) and
OpenCV (cv2.VideoCapture), plus the calibration files they read."""
