(* Used after before.sml (see lang.conf): compiles and runs the program one
   top-level declaration after another, as `use` would, but with the
   compiler's messages (type errors, warnings) on stderr, and an uncaught
   exception reported on stderr with exit status 1: Poly/ML's own `use`
   writes both on stdout.  Then it flushes and leaves through _exit, saving
   the 0.4 s Poly/ML 5.7's exit takes (its root thread polls for it every
   400 ms). *)
local
  val ins = TextIO.openIn RceSml.main
  val line = ref 1
  fun err s = TextIO.output (TextIO.stdErr, s)
  fun getc () =
    case TextIO.input1 ins of
        SOME #"\n" => (line := !line + 1; SOME #"\n")
      | c => c
  fun run () =
    if TextIO.endOfStream ins then 0
    else
      (PolyML.compiler (getc, [PolyML.Compiler.CPOutStream err,
                               PolyML.Compiler.CPFileName RceSml.main,
                               PolyML.Compiler.CPLineNo (fn () => !line)]) ();
       run ())
  val status =
    run () handle
        Fail "Static Errors" => 1
      | e => (err ("Exception- " ^ General.exnMessage e ^ " raised\n"); 1)
  val () = TextIO.flushOut TextIO.stdOut
  val () = TextIO.flushOut TextIO.stdErr
  val exit = Foreign.buildCall1
    (Foreign.getSymbol (Foreign.loadExecutable ()) "_exit", Foreign.cInt, Foreign.cVoid)
in
  val () = exit status
end;
