using BenchmarkDotNet.Running;

namespace SqlRec.Benchmarks;

/// <summary>
/// SqlRec's benchmarks, not run by <c>dotnet test</c>:
/// <list type="bullet">
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- --filter '*'</c>: BenchmarkDotNet
/// micro-benchmarks on generated data (BenchmarkDotNet's arguments apply; <c>--list flat</c> lists them).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- gowalla [data folder]</c>: the
/// scripted end-to-end run on the Gowalla split (build, serving latency, full evaluation).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- gowalla-load [db file] [nochecksums]</c>: the first
/// recommend() of Gowalla's models from a file, the cold load with its checks (<see cref="LoadBenchmark"/>).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- embed [texts]</c>: bulk and per-row
/// text embedding with the real all-MiniLM-L6-v2 against ONNX Runtime's <c>Run</c> alone, threads x batch sizes, on MovieLens texts.</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- freedom [ml-100k or ml-1m folder] [embedder=minilm]</c>: the FREEDOM quality
/// comparison on MovieLens (popular, lightgcn, freedom on the same 8:1:1 splits, seeds 1-3; long-tail, few-interaction and cold-start slices; time and memory per epoch).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- knn [--noise x] [item counts] | --gowalla | --ml100k</c>: FREEDOM's item-item kNN graph, exact
/// against approximate (time and recall), on generated vectors.</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- vectors [--gowalla] [--mips-only|--text-only]</c>:
/// vector search, SqlRec's exact top-k against sqlite-vec's vec0 on the same vectors (<see cref="VectorBenchmark"/>).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- lightgcn [data folder] [--device d] [--parts p,q]</c>:
/// LightGCN's compute figures on Gowalla (memory bandwidth, graph build, propagation GB/s, epochs, serving and evaluation through SQL).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- extension [data folder] [--extension folder]</c>: the loadable
/// extension in python3 and the sqlite3 shell against the .NET library on Gowalla (load time, sizes, recommend() latency, build, evaluation, epochs).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- accuracy [ml-100k|ml-1m|folder] [seeds=1,2,3] [kinds=popular,graph_filter,graph_filter_linear,bspm,ease,numpy,lightgcn,auto] [lambdas=...]</c>:
/// every kind side by side on MovieLens (ratings &gt;= 4, random 80/20 per user, full ranking) with a plain numpy EASE as the reference (<see cref="AccuracyBenchmark"/>).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- coldtext [ml-100k] [ml-1m] [seeds=1,2,3] [share=0.15]</c>:
/// content-only recommendations for items held out entirely, plain text kNN with 'hash' and all-MiniLM-L6-v2 against random and popular (<see cref="ColdTextBenchmark"/>).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- ease-scale [items ...]</c>: the largest catalogue <c>ease</c> handles here, its training time and memory (<see cref="EaseScaleBenchmark"/>).</item>
/// <item><c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- scale [sizes=1m,4m,16m] [kinds=popular,graph_filter,ease,lightgcn,freedom] [dir=...] [plots=...]</c>:
/// how build time, memory, database size, recommend() latency (warm and a fresh process's first call) and evaluation grow with generated power-law data (<see cref="ScaleBenchmark"/>).</item>
/// </list>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "gowalla") return GowallaBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "gowalla-load") return LoadBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "embed") return EmbedBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "freedom") return FreedomBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "knn") return KnnBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "vectors") return VectorBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "lightgcn") return LightGcnBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "extension") return ExtensionBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "accuracy") return AccuracyBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "ease-scale") return EaseScaleBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "scale") return ScaleBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "coldtext") return ColdTextBenchmark.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
