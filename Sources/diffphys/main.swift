print("diffphys")
