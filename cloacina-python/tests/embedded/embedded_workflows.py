"""Workflows defined by a Python module, loaded by the Rust tests in `../embed.rs`."""

import cloacina


@cloacina.task(id="greet")
def greet(context):
    context["greeting"] = f"hello {context.get('name', 'world')}"


@cloacina.task(id="shout", dependencies=["greet"])
async def shout(context):
    context["shouted"] = context["greeting"].upper()


greeting = cloacina.workflow(name="embedded_greeting", tasks=[greet, shout])
# Registered without being kept in an attribute: found all the same.
cloacina.workflow(name="embedded_greeting_short", tasks=[greet])
