"""The operational-space impedance controller. Everything but node.py and main.py is plain Python (no rclpy)."""
