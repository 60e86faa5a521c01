"""The Shiny dashboard: live map, uptime and utilisation, data quality, published reports."""
