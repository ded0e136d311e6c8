using Spectre.Console;
using SqlRec.Cli;

// Errors go to stderr so that `sqlrec sql db "..." > out.txt` still shows them; Spectre detects
// per stream whether it is a terminal and drops colours and live displays when it is not.
var output = AnsiConsole.Console;
var errors = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
// Redirected output has no window width and Spectre then wraps at 80 columns, which breaks
// paths and messages in CI logs; those are read in wider viewers, and error lines not at all.
if (!output.Profile.Out.IsTerminal) output.Profile.Width = 120;
if (!errors.Profile.Out.IsTerminal) errors.Profile.Width = 1000;
return CliApp.Run(args, output, errors);
