console.log("hello from rce");
