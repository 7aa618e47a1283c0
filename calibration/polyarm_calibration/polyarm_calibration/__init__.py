"""Calibration: a core in plain Python and OpenCV (intrinsics from ChArUco views, board poses by PnP,
hand-eye for a fixed and a wrist camera) and `polyarm calibrate`, which collects the views by moving
the arm through the running graph and writes the files the camera and perception nodes read."""
