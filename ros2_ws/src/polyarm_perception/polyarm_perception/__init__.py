"""Object pose from a depth camera: a functional core (cloud, segmentation, template, registration,
estimator; no rclpy) and the perception node that wires it to the camera topics."""
