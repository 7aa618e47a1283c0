"""The faults a lab can give the project's fakes, typed on their standard input: the words each takes and
what each does, for `polyarm fake-robot --help` and each fake's own help. (franky-sim, the Panda's, takes none.)"""

XARM_FAULTS = "error CODE | estop | collision | link down | link up"
XARM_FAULT_HELP = """xArm controller (xarm7) faults, typed on its standard input:
  error CODE   raise controller error CODE (the SDK's ControllerErrorCodeMap): the arm stops
  estop        the emergency stop (error 1): the arm stops and its motors lose power
  collision    a collision (error 31, Collision Caused Abnormal Current): the arm stops
  link down    the network link lost: no replies, no reports, no new connections; the arm holds
  link up      the link back
"""

BUS_FAULTS = "unplug ID | plug ID | overload ID | overheat ID | late ID MS"
BUS_FAULT_HELP = """Dynamixel bus (wx250s, wx250) faults, typed on its standard input:
  unplug ID    the servo's cable pulled: it answers nothing (a group read through it fails)
  plug ID      the cable back
  overload ID  Hardware Error Status overload (0x20): torque off, the alert bit in every status packet
  overheat ID  Present Temperature past its limit, Hardware Error Status overheating (0x04): torque off, alert bit
  late ID MS   the servo answers MS milliseconds late
A hardware error stands until the servo is rebooted (REBOOT): torque stays off until then.
"""
