import time
start = time.monotonic()
time.sleep(0.05)
print(time.monotonic() - start >= 0.05)