// Click a column header of a table with class "sortable" to sort its rows (again to reverse).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach((table) => {
    const body = table.tBodies[0];
    table.querySelectorAll("thead th").forEach((th, column) => {
      th.style.cursor = "pointer";
      th.title = "sort by this column";
      th.addEventListener("click", () => {
        const ascending = th.dataset.order !== "asc";
        table.querySelectorAll("thead th").forEach((h) => delete h.dataset.order);
        th.dataset.order = ascending ? "asc" : "desc";
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const x = a.cells[column].textContent.trim();
          const y = b.cells[column].textContent.trim();
          return (ascending ? 1 : -1) * x.localeCompare(y, undefined, { numeric: true });
        });
        rows.forEach((row) => body.appendChild(row));
      });
    });
  });
});
