(* Used before the program (see lang.conf): CommandLine.arguments returns the
   program's arguments only, those after the "--" that ends poly's own; the
   word before that "--" is the program's file, which run.sml reads as
   RceSml.main. *)
structure RceSml =
struct
  val main =
    let
      fun before_ (file :: "--" :: _) = file
        | before_ (_ :: rest) = before_ rest
        | before_ [] = "main.sml"
    in
      before_ (CommandLine.arguments ())
    end
end;
structure CommandLine : COMMAND_LINE =
struct
  val name = CommandLine.name
  fun arguments () =
    let
      fun after [] = []
        | after ("--" :: rest) = rest
        | after (_ :: rest) = after rest
    in
      after (CommandLine.arguments ())
    end
end;
