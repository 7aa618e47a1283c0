"""QoS of polyarm's topics (docs/architecture.md, 'Topics, services, parameters')."""

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

# joint_states: reliable; a short queue absorbs a slow subscriber without stalling the sim.
STATE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
# joint_commands, gripper/command, targets: only the newest command matters.
COMMAND = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
# camera streams: best effort, newest frame only.
SENSOR = qos_profile_sensor_data
