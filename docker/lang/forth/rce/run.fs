\ Runs the program (see lang.conf): includes the file named by the next
\ command-line argument, relative to the working directory (~+/), and
\ leaves with `bye`, so the arguments after it are the program's (next-arg,
\ arg), never read as files or options.  An uncaught error is reported as
\ Gforth does (on stderr) and exits 1, without the blank line Gforth's own
\ handler writes to stdout.
create rce-file 256 chars allot
: rce-run ( -- )
    next-arg
    over c@ [char] / <> if
        s" ~+/" rce-file place  rce-file +place  rce-file count
    then
    ['] included catch ?dup-if
        >r 2drop r> DoError  outfile-id flush-file drop  1 (bye)
    then
    bye ;
rce-run
