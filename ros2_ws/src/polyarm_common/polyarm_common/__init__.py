"""Pieces every polyarm node shares: ROS environment set-up, QoS, message conversion, rate meters."""
