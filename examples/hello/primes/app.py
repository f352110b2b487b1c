import time


def count_primes_for(cpu_ms):
    """Counts primes by trial division until cpu_ms of CPU time is spent."""
    deadline = time.process_time() + cpu_ms / 1000.0
    count, n = 0, 2
    while True:
        for _ in range(200):
            d = 2
            while d * d <= n:
                if n % d == 0:
                    break
                d += 1
            else:
                count += 1
            n += 1
        if time.process_time() >= deadline:
            return count, n


def handler(event, context):
    cpu_ms = int((event or {}).get("ms", 100))
    start = time.perf_counter()
    count, upto = count_primes_for(cpu_ms)
    wall_ms = (time.perf_counter() - start) * 1000.0
    return {
        "primes": count,
        "checked_up_to": upto,
        "cpu_ms": cpu_ms,
        "wall_ms": round(wall_ms, 2),
        "memory_mb": int(context.memory_limit_in_mb),
    }
