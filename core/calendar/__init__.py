"""Planned-time calendar: shift patterns with breaks, assigned to plant, line or machine; answers
"planned production time of equipment X between t1 and t2" and "which shift contains t"."""
