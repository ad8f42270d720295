// Runs npm's piston-client, unmodified, against a server speaking Piston's v2 API
// (t/32-piston.t): node piston-client.mjs http://127.0.0.1:PORT
// Prints one JSON line per call: {"call": name, "result": what the client returned}.
import piston from 'piston-client';

const client = piston({ server: process.argv[2] });

const calls = [
    ['runtimes', () => client.runtimes()],
    ['python', () => client.execute({
        language: 'python',
        files: [{ content: 'import sys\nprint(input().upper(), sys.argv[1:])\n' }],
        stdin: 'hello from stdin',
        args: ['a b', '-x'],
    })],
    ['c', () => client.execute('c', '#include <stdio.h>\nint main(int c, char **v) { printf("hi from c %d %s\\n", c, v[3]); return 0; }\n')],
    ['exit', () => client.execute('python', 'import sys\nprint("bye")\nsys.exit(3)\n')],
];

for (const [name, call] of calls) {
    let result;
    try {
        result = await call();
    } catch (e) {
        result = { thrown: String(e) };
    }
    if (result && result.error instanceof Error) {
        result.error = String(result.error);
    }
    console.log(JSON.stringify({ call: name, result }));
}
