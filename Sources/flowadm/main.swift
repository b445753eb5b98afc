print("flowadm: not built yet")
