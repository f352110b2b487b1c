import os


def handler(event, context):
    event = event or {}
    # Invoked directly ({"name": ...}) or through the HTTP API (GET /hello?name=...).
    query = event.get("queryStringParameters") or {}
    name = event.get("name") or query.get("name") or "world"
    print(f"greeting {name}")
    return {"message": f"{os.environ.get('GREETING', 'Hello')}, {name}!"}
