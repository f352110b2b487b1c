import os


def handler(event, context):
    name = (event or {}).get("name", "world")
    print(f"greeting {name}")
    return {"message": f"{os.environ.get('GREETING', 'Hello')}, {name}!"}
