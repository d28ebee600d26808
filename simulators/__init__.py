"""Plant simulators: a deterministic factory model behind real OPC UA, Modbus TCP and MQTT stacks.

`simulators.scenario` loads and validates scenario files, `simulators.model` runs the plant in
simulated time, `simulators.protocols` serve it over the wire, `simulators.runtime` ties them
together with fault injection and the control endpoint. Nothing here imports `core` or `gateway`.
"""
