"""Edge gateway: OPC UA, Modbus TCP and MQTT into PostgreSQL/TimescaleDB, losing nothing.

Importing this package loads nothing heavy: protocol stacks and the database driver are imported by
the modules that use them (`gateway.runtime` wires everything together).
"""
