%% The Erlang image's compile and run steps (lang.conf), so that a program may be
%% written as an escript (main/1, no -module, a #! first line or none) or as a
%% module, and still be compiled once (erlc's compiler: a syntax error is the
%% compile step's, CE) and run by a VM that starts in ~0.1 s.
%%
%%   erl -noshell -pa /opt/rce -run rce_erlang compile main.erl
%%     Compiles every .erl file of the work dir into a .beam beside it.  The
%%     main file is read as escript reads a script: a first line that begins
%%     with #! is skipped; without -module its module is `main` with main/1
%%     (or main/0) exported.  Its module may have any name: it goes to
%%     main.beam (the main file's name).  The other files are modules, as
%%     erlc compiles them.
%%     Errors and warnings are printed as erlc prints them; exit 1 after an
%%     error.
%%
%%   erl -noshell -pa /opt/rce -run rce_erlang run main.erl -extra ARGS...
%%     Loads main.beam and calls main(ARGS) (main() when only main/0 is
%%     exported): exit 0 when it returns, erlang:halt(N) exits N; an uncaught
%%     exception is printed on stderr (as escript prints it) and exits 1.
-module(rce_erlang).
-export([compile/1, run/1]).

compile([Main]) ->
    Others = [F || F <- filelib:wildcard("*.erl"), F =/= Main],
    Results = [compile_main(Main) | [compile_module(F) || F <- Others]],
    halt(case lists:all(fun(Ok) -> Ok end, Results) of true -> 0; false -> 1 end).

compile_module(File) ->
    case compile:file(File, [report, {outdir, "."}]) of
        {ok, _} -> true;
        _ -> false
    end.

compile_main(File) ->
    case read_forms(File) of
        {ok, Forms0} ->
            Forms = default_module(Forms0),
            case compile:forms(Forms, [report, binary, {source, File}]) of
                {ok, _Mod, Bin} ->
                    ok = file:write_file(filename:rootname(File) ++ ".beam", Bin),
                    true;
                _ ->
                    false
            end;
        {error, Reason} ->
            io:format("~ts: ~ts~n", [File, file:format_error(Reason)]),
            false
    end.

%% The forms of File, its first line skipped when it begins with #! (the line
%% numbers stay those of the file).
read_forms(File) ->
    case file:open(File, [read, binary]) of
        {ok, Fd} ->
            Location = case file:read_line(Fd) of
                {ok, <<"#!", _/binary>>} -> {2, 1};
                _ -> {ok, 0} = file:position(Fd, bof), {1, 1}
            end,
            {ok, Epp} = epp:open([{fd, Fd}, {name, File}, {location, Location}]),
            Forms = parse(Epp, []),
            epp:close(Epp),
            file:close(Fd),
            {ok, Forms};
        Error ->
            Error
    end.

parse(Epp, Acc) ->
    case epp:parse_erl_form(Epp) of
        {eof, Location} -> lists:reverse([{eof, Location} | Acc]);
        {ok, Form} -> parse(Epp, [Form | Acc]);
        {error, E} -> parse(Epp, [{error, E} | Acc]);
        {warning, W} -> parse(Epp, [{warning, W} | Acc])
    end.

%% An escript's module: `main`, exporting its main/1 (or main/0), unless the
%% file names one.
default_module(Forms) ->
    case [M || {attribute, _, module, M} <- Forms] of
        [] ->
            Mains = [{main, A} || {function, _, main, A, _} <- Forms, A =< 1],
            Export = lists:sublist(lists:reverse(lists:sort(Mains)), 1),
            {Before, After} = lists:splitwith(
                fun({attribute, _, file, _}) -> true; (_) -> false end, Forms),
            Before ++ [{attribute, 1, module, main}, {attribute, 1, export, Export} | After];
        _ ->
            Forms
    end.

run([Main]) ->
    Args = init:get_plain_arguments(),
    Beam = filename:rootname(Main) ++ ".beam",
    {ok, Bin} = file:read_file(Beam),
    {ok, {Mod, _}} = beam_lib:chunks(Bin, []),
    {module, Mod} = code:load_binary(Mod, Beam, Bin),
    Status =
        try
            case erlang:function_exported(Mod, main, 1) of
                true -> Mod:main(Args);
                false -> Mod:main()
            end,
            0
        catch
            Class:Reason:Stack ->
                Own = fun({M, _, _, _}) -> M =/= ?MODULE end,
                io:put_chars(standard_error,
                             [erl_error:format_exception(Class, Reason, lists:takewhile(Own, Stack)),
                              "\n"]),
                1
        end,
    halt(Status).
