"""Teleoperation: devices behind polyarm_core.teleop.TeleopDevice, and the TCP target their commands move.

Plain Python, no rclpy: each device decodes its own raw input (terminal bytes, `struct input_event`s,
HID reports) into a TeleopCommand, and TargetIntegrator turns commands into targets for
`controller/target_pose`. The ROS shell around them comes with the recording session.
"""
