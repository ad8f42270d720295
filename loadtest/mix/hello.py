print("hello from rce")
