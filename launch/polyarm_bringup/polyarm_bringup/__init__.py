"""The graph: which nodes run with which parameters (bringup), polyarm up, ros2 launch, evaluation through ROS, the demo."""
