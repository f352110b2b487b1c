import json
import time


def handler(event, context):
    """GET /api/hello?name=… (cacheable for 30 s) and GET /api/time (never cached)."""
    path = event.get("rawPath", "")
    query = event.get("queryStringParameters") or {}
    if path == "/api/hello":
        body = {"message": f"Hello, {query.get('name', 'world')}!"}
        cache = "public, max-age=30"
    elif path == "/api/time":
        body = {"now": time.time()}
        cache = "no-store"
    else:
        return {
            "statusCode": 404,
            "headers": {"content-type": "application/json", "cache-control": "max-age=5"},
            "body": json.dumps({"message": f"no route {path}"}),
        }
    body["served_by"] = context.function_name
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "cache-control": cache},
        "body": json.dumps(body),
    }
