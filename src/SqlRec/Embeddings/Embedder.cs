using System.Numerics.Tensors;

namespace SqlRec.Embeddings;

/// <summary>
/// Turns texts into vectors of one fixed dimension. Instances are loaded once per process and
/// shared by every connection and thread (see <see cref="EmbedderCache"/>), so they are immutable
/// and thread-safe.
/// </summary>
internal abstract class Embedder
{
    /// <summary>The validated options this embedder was built from.</summary>
    public abstract EmbedderDefinition Definition { get; }

    /// <summary>The process cache's entry for this instance (see <see cref="EmbedderCache"/>), or null.</summary>
    internal object? CacheEntry { get; set; }

    /// <summary>Length of every vector.</summary>
    public abstract int Dimension { get; }

    /// <summary>How many texts bulk embedding hands to <see cref="Embed"/> at a time, at most.</summary>
    public abstract int BatchSize { get; }

    /// <summary>How many texts bulk embedding reads before it embeds them (sorting by length within this window).</summary>
    public virtual int WindowSize => Math.Max(256, BatchSize * 16);

    /// <summary>
    /// Embeds each of <paramref name="texts"/> (non-empty) into the matching row of
    /// <paramref name="output"/> (<c>texts.Count * Dimension</c> floats). <paramref name="function"/> and
    /// <paramref name="name"/> are for error messages.
    /// </summary>
    public abstract void Embed(string function, string name, IReadOnlyList<string> texts, Span<float> output);

    /// <summary>Scales a vector to unit length (a zero vector stays zero).</summary>
    protected static void NormalizeL2(Span<float> vector)
    {
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0 && float.IsFinite(norm)) TensorPrimitives.Divide(vector, norm, vector);
    }
}
