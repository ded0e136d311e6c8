using BenchmarkDotNet.Running;

namespace SqlRec.Benchmarks;

/// <summary>
/// SqlRec's benchmarks, not run by <c>dotnet test</c>:
/// <list type="bullet">
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- --filter '*'</c>: BenchmarkDotNet
/// micro-benchmarks on generated data (BenchmarkDotNet's arguments apply; <c>--list flat</c> lists them).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- gowalla [data folder]</c>: the
/// scripted end-to-end run on the Gowalla split (build, serving latency, full evaluation).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- embed [texts]</c>: bulk and per-row
/// text embedding against ONNX Runtime's <c>Run</c> alone, on a generated MiniLM-shaped model.</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- vectors [--gowalla] [--mips-only|--text-only]</c>:
/// vector search, SqlRec's exact top-k against sqlite-vec's vec0 on the same vectors (<see cref="VectorBenchmark"/>).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- lightgcn [data folder] [--device d] [--parts p,q]</c>:
/// LightGCN's compute figures on Gowalla (memory bandwidth, graph build, propagation GB/s, epochs, serving and evaluation through SQL).</item>
/// </list>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "gowalla") return GowallaBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "embed") return EmbedBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "vectors") return VectorBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "lightgcn") return LightGcnBenchmark.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
