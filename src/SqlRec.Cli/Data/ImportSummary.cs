namespace SqlRec.Cli.Data;

/// <summary>What an import wrote: rows per table, and distinct users and items where known.</summary>
/// <param name="Tables">Each table with its row count, in the order they were written.</param>
/// <param name="Users">Distinct users in the data.</param>
/// <param name="Items">Distinct items in the data.</param>
internal sealed record ImportSummary(IReadOnlyList<(string Table, long Rows)> Tables, long Users, long Items)
{
    /// <summary>The row count of one table.</summary>
    public long RowsOf(string table) => Tables.Single(t => t.Table == table).Rows;
}
