using BenchmarkDotNet.Running;

namespace SqlRec.Benchmarks;

/// <summary>
/// Runs SqlRec's benchmarks: <c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- --filter '*'</c>
/// (BenchmarkDotNet's own arguments apply; <c>--list flat</c> lists them). Not run by <c>dotnet test</c>.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
