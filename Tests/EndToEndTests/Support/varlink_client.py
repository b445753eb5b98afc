#!/usr/bin/env python3
"""Calls flowd's control socket with the third-party `varlink` package and prints
what it got as one JSON document, for VarlinkConformanceTests.swift to check.

usage: varlink_client.py SOCKET_PATH RUN_ID
"""
import json
import sys

import varlink

socket_path, run_id = sys.argv[1], int(sys.argv[2])
result = {}
with varlink.Client(address="unix:" + socket_path) as client:
    # GetInfo and GetInterfaceDescription: the client parses our IDL to build methods.
    with client.open("org.varlink.service", namespaced=False) as service:
        info = service.GetInfo()
        result["info"] = info
    with client.open("io.flowd.Control", namespaced=False) as control:
        result["status"] = control.GetStatus()
        result["workflows"] = control.ListWorkflows()
        result["runs"] = control.ListRuns(limit=5)
        result["run"] = control.GetRun(run_id)
        result["stats"] = control.GetStats()
        result["metrics_head"] = control.GetMetrics()["text"].splitlines()[0]
        try:
            control.GetRun(999999)
            result["missing"] = "no error"
        except varlink.VarlinkError as error:
            result["missing"] = {"error": error.error(), "parameters": error.parameters()}
        # A streaming call: the first reply of Watch arrives at once.
        for reply in control.Watch(_more=True):
            result["watch_first"] = reply
            break
print(json.dumps(result, default=str))
